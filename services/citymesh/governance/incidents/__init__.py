"""The five-in-one incident pipeline: perceive → analyse → serve → command → supervise.

rules.py      the YAML rule format (rules, correlation, SLA per severity); rules.yaml the default
evaluate.py   vectorised NumPy evaluation of the rules over batches of readings (and a plain
              Python reference with the same meaning)
model.py      incidents: correlation, transitions and their guards, SLA escalation, statistics
units.py      the responder units of each sub-district, routing, the road model, straight-line ETAs
(the four above are pure: no grpc, NATS or protobuf)
eta.py        ETAs from compute's `route` kernel over gRPC, straight-line when it cannot answer
store.py      the `incidents` KV bucket: compare-and-set, and a watched view of every incident
devices.py    kind, position and sub-district of each device (a watch of the `devices` bucket)
perceive.py   the durable TELEMETRY consumer that feeds the evaluator
lease.py      the leader lease: one governance replica at a time perceives and supervises
pipeline.py   the stages joined: open/join, acknowledge, dispatch, resolve, escalate; events, audit
convert.py    protobuf ⇄ model;  servicer.py  IncidentService with its access checks
cli.py        `citymesh incidents`
"""
