"""acd: an ACD and IVR routing service for Asterisk."""

__version__ = "0.1.0"
