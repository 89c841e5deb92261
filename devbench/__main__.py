from devbench.cli import main

raise SystemExit(main())
