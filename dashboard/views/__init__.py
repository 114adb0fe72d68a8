"""One module per dashboard page; each is a script `st.navigation` runs."""
