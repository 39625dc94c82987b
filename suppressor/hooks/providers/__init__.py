"""One module per provider: ``verify(delivery, secret)`` and ``parse(delivery)`` (see hooks.inbound)."""

from . import braze, iterable, mailgun, mautic, postmark, sendgrid, ses, twilio

BY_NAME = {m.__name__.rsplit(".", 1)[1]: m for m in (sendgrid, mailgun, postmark, ses, twilio, braze, iterable, mautic)}
