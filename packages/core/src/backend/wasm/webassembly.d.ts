/**
 * The part of the `WebAssembly` JS API the wasm back end uses. The workspace compiles against
 * ES2023 + @types/node 20, and neither declares the `WebAssembly` global (lib.dom does); this file
 * declares just what backend/wasm calls, in lib.dom's shapes.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  interface Module {
    readonly __brand?: 'WebAssembly.Module';
  }
  type ExportValue = ((...args: any[]) => any) | Memory;
  type Exports = Record<string, ExportValue>;
  type Imports = Record<string, Record<string, ExportValue | number>>;
  type Bytes = ArrayBufferView | ArrayBuffer;
  interface Instance {
    readonly exports: Exports;
  }
}

// eslint-disable-next-line no-var
declare var WebAssembly: {
  Memory: { new (descriptor: WebAssembly.MemoryDescriptor): WebAssembly.Memory; prototype: WebAssembly.Memory };
  Module: {
    new (bytes: WebAssembly.Bytes): WebAssembly.Module;
    prototype: WebAssembly.Module;
    imports(module: WebAssembly.Module): { module: string; name: string; kind: string }[];
  };
  Instance: { new (module: WebAssembly.Module, imports?: WebAssembly.Imports): WebAssembly.Instance; prototype: WebAssembly.Instance };
  validate(bytes: WebAssembly.Bytes): boolean;
  compile(bytes: WebAssembly.Bytes): Promise<WebAssembly.Module>;
};

