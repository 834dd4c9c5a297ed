"""Requests (the helpdesk's tickets): submitting, the requester's side, the agent queue.

``models`` (requests, comments, attachments, canned replies), ``service`` (the verbs),
``queries`` (queues, search, visibility), ``api`` (``/api/v1/requests``), ``views`` (the Help
Center's request pages and the console's queue), ``storage`` (attachments under ``instance/``).
"""
