"""ticketwarden: the application package that wires webhooks, rules and connectors together."""

__version__ = "0.1.0"
