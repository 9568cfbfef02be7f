"""NetCanvas's desktop application. Imports the engine; the engine never imports it."""
