"""The FluxLoop API: operator credentials, HTTP client, verify, revoke, hygiene."""
