"""OSC control: the route table, the UDP server, feedback to subscribers, `chronus send`."""

# DESIGN.md §5: loopback by default; another interface is the user's explicit choice.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005
