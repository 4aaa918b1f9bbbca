"""What runs inside the user's processes. Imported from `_site/sitecustomize.py`; keep it cheap."""
