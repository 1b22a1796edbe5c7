"""The bundled catalog of email sending services."""
