"""Governance REST API, one module per subject (the names of governance.services), each with its
serializers beside its views; common.py holds what they share. Thin views over the services the
pages call too."""
