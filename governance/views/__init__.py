"""Governance pages, one module per subject (the names of governance.services): policies, intake,
lifecycle (a version's workflow page), validation (the review page), signoffs (the sign page),
findings, waivers, reviews (periodic review), notifications (the inbox) and worklists (the queue
and the board). They call the same services as the API, through core.pages.form_action.
"""
