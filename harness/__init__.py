"""What drives the app from outside: its isolated environment, ``streamlit run app.py`` on
loopback and the Chromium that opens it; shared by the tests and the benchmarks."""
