from attribution_db.cli import main

raise SystemExit(main())
