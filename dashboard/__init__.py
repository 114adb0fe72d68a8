"""Vigil's Streamlit dashboard: `vigil dashboard`, or `streamlit run dashboard/app.py`."""
