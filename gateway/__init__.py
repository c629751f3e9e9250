"""OAuth integration gateway: connect users, keep their tokens encrypted and fresh, proxy their calls."""
