"""The wire contract: every model that crosses the network, one module per direction.

- `events`: what a student's JupyterLab sends (POST /api/v1/events) and what ingest answers.
- `reads`: every REST answer (the read API, the dashboard's views, the account, /health),
  except the code-insight views' (runs, clusters, replay), which are in `insight`.
- `live`: every message of the live feed (WS /ws/dashboard, both ways) and GET /api/v1/live,
  which answers the feed's first message.
- `jupyter`: the Jupyter server extension's API for the JupyterLab extension.
- `signals`: test results and engagement (ingest fields and their reads).
- `base`: what the answer models share (camelCase aliases, timestamps).

The TypeScript types of both front-ends are generated from these models
(`npm run generate:types`, scripts/generate_wire_types.py); never copy one by hand.
"""
