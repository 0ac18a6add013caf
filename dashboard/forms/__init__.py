"""Embedded transaction forms (DESIGN D7): parse what the user entered, call one core write
service per user action inside one transaction, and hand validation errors back as field
messages. The only part of the dashboard that calls core write services (D12)."""
