"""The papermill report: its template notebook and the sections it renders."""
