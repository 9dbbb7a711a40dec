"""firedrill: disaster-recovery fire drills for InterMail-style mail systems."""

__version__ = "0.2.0"
