declare module '*.svg' {
  const value: string;
  export default value;
}

/** The bundler (Rspack) resolves `require` of the package's own package.json. */
declare function require(id: '../package.json'): { version: string };
