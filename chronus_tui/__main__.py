from chronus_tui.cli import main

raise SystemExit(main())
