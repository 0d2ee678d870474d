"""Reusable widget forms: pure form logic (:mod:`.engine`), an ipywidgets view (:mod:`.widgets`) and serving
form apps with Voilà (:mod:`.voila`).

The fit survey's form and app live in :mod:`partner_analysis.fit.form` and :mod:`partner_analysis.fit.app`,
the records forms in :mod:`partner_analysis.records.forms`. Import from the submodules:
``forms.engine`` stays usable without ipywidgets loaded, so this package imports nothing.
"""
