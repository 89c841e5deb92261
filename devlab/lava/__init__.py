"""A real LAVA instance for the lab: ``python -m devlab.lava up|down|status``.

guest.py     what the LAVA QEMU devices boot (guest image, libguestfs's kernel), cached
instance.py  PostgreSQL, lava-server (gunicorn), the scheduler, a worker and a file server on
             loopback, the devices registered; stopped by PID
"""
