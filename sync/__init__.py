"""chamilo-sync: keep Chamilo LMS users in step with a CSV export or an LDAP directory."""

__version__ = "0.1.0"
