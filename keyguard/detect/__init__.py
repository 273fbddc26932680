"""Detection: rule packs, the hot scanning loop, placeholder filters, decoders, JWT."""
