"""The cross-domain SSO dance on each app's host: start, callback, sign_out, ping."""
