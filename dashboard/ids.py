"""Component ids shared across modules (kebab-case, prefixed by page or component)."""

VIEW_PARAM = "view-param"  # pattern type: {"type": VIEW_PARAM, "name": <query key>} → value
VIEW_DATE = "view-date"  # pattern type: {"type": VIEW_DATE, "name": <query key>} → date
PAGES_LOCATION = "_pages_location"  # Dash pages' own dcc.Location
NAVBAR = "shell-navbar"
BATCH_BADGE = "shell-batch-badge"
# pattern type: {"type": EXPORT_BUTTON, "table": <name>, "format": "csv" or "xlsx"}; a click
# downloads the export route's file (assets/export.js reads the id and builds the address
# as ``dashboard.downloads.export_url`` does)
EXPORT_BUTTON = "export-button"
