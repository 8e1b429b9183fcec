"""OSC control: argument kinds, the route table and its schema, the UDP server, feedback to
subscribers, and the client side of `chronus send`."""

# Loopback by default, so no other machine can play the instrument unless the user chooses
# another interface (--osc-host) and the networks it serves (--osc-allow).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005
