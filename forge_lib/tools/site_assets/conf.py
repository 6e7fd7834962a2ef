"""Sphinx configuration of the course site, shared by both editions.

forge_lib.tools.site builds with this folder as Sphinx's confdir and a staging folder of
notebooks as its srcdir; it passes the edition's title with `-D html_title=...`. Nothing here is
fetched from a network when the site is built or viewed: the theme ships its own fonts and icons,
and site.py copies a local MathJax 3 into _static/mathjax.
"""

project = "Metrics Forge"
author = "the Metrics Forge authors"
html_title = "Metrics Forge"  # set per edition by site.py
language = "en"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The committed notebooks are executed already (and tested by nbval): render their outputs as
# they are, never re-run them.
nb_execution_mode = "off"
# Stream outputs of one cell in one block, as Jupyter shows them. site.py drops tqdm's progress
# bars (stderr) before the build; any other stderr is a real warning and stays visible.
nb_merge_streams = True
nb_output_stderr = "show"
# No course output is a widget, but a notebook that once held one keeps its widget state in the
# metadata, and myst-nb then adds require.js and the widget manager from a CDN: never.
nb_ipywidgets_js = {}

# $...$ and $$...$$ math, as in Jupyter; `#` anchors on headings for in-page links.
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# MathJax 3 from _static (copied by site.py), not a CDN. textmacros makes \_ and friends work
# inside \text{...} as they do in JupyterLab (notebook 13 writes \text{data\_range}).
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"packages": {"[+]": ["textmacros"]}},
}

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["forge.css"]
html_copy_source = True        # _sources/NN_topic.ipynb is what the download button serves...
html_sourcelink_suffix = ""    # ... under its own name, not NN_topic.ipynb.txt
html_show_sourcelink = False
html_show_copyright = False
html_context = {"default_mode": "light"}  # the figures are drawn on white
html_theme_options = {
    "home_page_in_toc": True,
    "use_download_button": True,   # .ipynb of this edition
    "use_fullscreen_button": True,
    "show_toc_level": 2,           # in-page contents: sections and their subsections
    "navigation_with_keys": False,
}
