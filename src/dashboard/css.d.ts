/** esbuild bundles imported CSS into the page's stylesheet; the import itself has no value. */
declare module '*.css';
