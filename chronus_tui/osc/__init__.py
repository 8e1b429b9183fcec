"""OSC control: the route table, the UDP server, feedback to subscribers, `chronus send`."""
