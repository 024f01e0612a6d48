"""Webhooks: SSRF rules for their URLs, signed delivery attempts, secrets sealed at rest."""
