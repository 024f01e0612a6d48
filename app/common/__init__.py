"""What more than one blueprint shares: fields, envelopes, documentation helpers."""
