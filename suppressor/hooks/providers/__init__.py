"""One module per provider: ``verify(delivery, secret)`` and ``parse(delivery)`` (see hooks.inbound)."""

from . import braze, iterable, mailgun, mautic, postmark, sendgrid, ses, twilio

BY_NAME = {m.__name__.rsplit(".", 1)[1]: m for m in (sendgrid, mailgun, postmark, ses, twilio, braze, iterable, mautic)}

KIB = 1024
# the largest body each provider sends, with room: a body past it is refused (413) before it is read whole
BODY_BYTES = {
    "sendgrid": 2048 * KIB,  # batches are posted at 768 KB
    "mailgun": 256 * KIB,  # one event (its message headers, user-variables, delivery-status)
    "postmark": 256 * KIB,  # one record
    "ses": 1024 * KIB,  # one SNS message (256 KB at most), its SES JSON escaped inside the envelope
    "twilio": 64 * KIB,  # form parameters, a message body of 1,600 characters at most
    "braze": 4096 * KIB,  # Currents batches
    "iterable": 256 * KIB,  # one event
    "mautic": 4096 * KIB,  # event arrays, batched in queue mode
}


def body_bytes(provider: str, overrides: dict[str, int] | None = None, default: int = 256 * KIB) -> int:
    """The body bound of ``provider``'s webhook (``SUPPRESSOR_HOOK_BODY_BYTES`` may set each)."""
    return (overrides or {}).get(provider, BODY_BYTES.get(provider, default))
