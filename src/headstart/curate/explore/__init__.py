"""`headstart explore`: the embeddings of a run as a map in the browser, served locally.

`points.Explorer` holds what the page shows (2-D map, colour columns, neighbours, selection,
duplicates) over one set of embeddings; `projection` makes the map, `thumbs` the cached
sprite sheets, `page` the one HTML+JS page (plotly `scattergl`), `server` the Starlette app
served by uvicorn. The command that builds an `Explorer` from a run is
`headstart.commands.explore`.
"""
