"""The leave-tracking domain: pure Python (stdlib only), no I/O.

Modules: `events` (what happened), `commands` (what callers ask for), `errors` (why not),
`ids` (stream and request ids), `workdays` (counting working days), `location` and `employee`
(state, `evolve` and `decide` per aggregate), `balance` (the balance of an employee for a year).
"""
