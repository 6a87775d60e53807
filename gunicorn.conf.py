"""gunicorn's settings for the portal's web process, read from the working directory.

Addresses ride in query strings (a customer's page is /subscriptions/customer?email=...), and
an address erased on request must not live on in a log: the access log names the path alone,
without its query string or the referring page's address."""

access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
