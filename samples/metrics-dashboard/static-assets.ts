// The page and its assets, read once at start into memory. A fixed table of paths: no request path
// ever reaches the file system. uPlot comes from the installed `uplot` package, never from a CDN.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticAsset {
  body: Buffer;
  contentType: string;
}

const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

/** URL path → asset. `/` is the page. */
export function loadStaticAssets(): Map<string, StaticAsset> {
  const uplotDist = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  const html = 'text/html; charset=utf-8';
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const files: Array<[string, string, string]> = [
    ['/', join(publicDir, 'index.html'), html],
    ['/index.html', join(publicDir, 'index.html'), html],
    ['/app.js', join(publicDir, 'app.js'), js],
    ['/style.css', join(publicDir, 'style.css'), css],
    ['/vendor/uPlot.iife.min.js', join(uplotDist, 'uPlot.iife.min.js'), js],
    ['/vendor/uPlot.min.css', join(uplotDist, 'uPlot.min.css'), css],
  ];
  return new Map(files.map(([path, file, contentType]) => [path, { body: readFileSync(file), contentType }]));
}
