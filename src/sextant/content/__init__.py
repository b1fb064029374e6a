"""Saved content: looks (saved insights) and dashboards (grids of looks, insights and text), kept in the
metadata database in folders whose rights decide who may view and edit them."""
