"""The fail-closed serving gateway (docs/gateway.md): a lean WSGI app of its own
(``gunicorn serving.gateway.wsgi``) that answers only with versions it has verified itself —
artifact digest, artifact signature and approval attestation against public keys from a file on
its own host — and stops answering within two seconds of a version ceasing to be servable.
"""
