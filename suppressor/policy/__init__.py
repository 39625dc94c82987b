"""What a tenant decides by: the policy document (caps, fatigue, balance, offers, quiet hours,
campaign overrides), the value-content catalog a blocked sales message can be swapped for, and
the registry of reason codes the decide script gives."""
