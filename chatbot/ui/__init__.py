"""The Streamlit glue: the only modules of ``chatbot`` that import Streamlit.

Everything else in ``chatbot`` is plain Python that tests and commands import without it
(``tests/test_boundaries.py`` checks). Pages call these modules and the core; the core never
calls back.
"""
