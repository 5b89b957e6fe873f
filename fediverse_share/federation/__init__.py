"""Federation glue: turning our actions into activities and activities into actions."""
