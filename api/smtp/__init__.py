"""The SMTP gateway: a door without an API key in front of a relay (access.py), and what it does with a message (gateway.py)."""
