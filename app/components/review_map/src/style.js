// The component's styles (inserted into its shadow root, so nothing leaks into the page).
export const CSS = `
.rm-wrap { font-family: var(--st-font, sans-serif); font-size: 13px; color: var(--st-text-color, #31333f); }
.rm-bar { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 4px; align-items: center; }
.rm-bar button { background: #262730; color: #eee; border: 1px solid #555; border-radius: 4px; padding: 3px 8px;
  cursor: pointer; font-size: 12px; }
.rm-bar button.rm-on { background: #ff4b4b; border-color: #ff4b4b; color: white; }
.rm-heat { margin-left: 8px; }
.rm-map { position: relative; height: 600px; background: #111; outline: none; overflow: hidden; }
.rm-box { position: absolute; display: none; border: 1px dashed white; background: rgba(255,255,255,0.15);
  pointer-events: none; z-index: 5; }
.rm-msg { min-height: 18px; margin-top: 4px; }
.rm-msg.rm-error { color: #d62f2f; font-weight: 600; }
.rm-msg.rm-ok { color: #1f8a3c; }
.rm-hint { opacity: 0.7; font-size: 12px; }
.rm-help { color: #eee; position: absolute; top: 10px; right: 10px; z-index: 10; background: rgba(20,20,28,0.94); padding: 10px 14px;
  border-radius: 6px; border: 1px solid #666; max-height: 560px; overflow: auto; }
.rm-help h4 { margin: 0 0 6px 0; }
.rm-help td { padding: 1px 8px 1px 0; }
.rm-key { font-family: monospace; color: #ffd36b; white-space: nowrap; }
.rm-tip { white-space: pre; font-size: 12px; }
`;
