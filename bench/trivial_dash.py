"""The ceiling for bench/viewers.py: a Dash app whose one callback returns a constant, served by
gunicorn exactly as `gmv serve` serves the dashboard."""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html

app = Dash(__name__, serve_locally=True)
app.layout = html.Div([dcc.Interval(id="tick", interval=1000), html.Div(id="out")])


@app.callback(Output("out", "children"), Input("tick", "n_intervals"))
def constant(_: int | None) -> str:
    return "ok"


server = app.server
server.test_client().get("/")  # set up before serving (plotly/dash#3971), as dashboard.app does

REQUEST = {"output": "out.children", "outputs": {"id": "out", "property": "children"},
           "inputs": [{"id": "tick", "property": "n_intervals", "value": 1}],
           "changedPropIds": ["tick.n_intervals"], "state": []}
