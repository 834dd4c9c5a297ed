"""The outbox: every outgoing email and webhook is a row written in the caller's transaction,
delivered later by ``sender`` (``flask --app wsgi outbox send``, or the server's background loop).
"""
