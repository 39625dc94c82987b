"""Live decisions: the decider that runs lua/decide.lua (one verdict per message, atomically
with the customer's caps and ledgers) and the decision log."""
