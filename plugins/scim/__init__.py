"""SCIM 2.0 provisioning (RFC 7643 / RFC 7644) onto the core's users and groups (being built: issue 5)."""
