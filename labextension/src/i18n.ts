/**
 * The extension's translation bundle for modules that build text outside a plugin's
 * `activate` (session dialogs and status items): set once by the session plugin from
 * `ITranslator`, English until then.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from './tokens';

let bundle: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN);

export function setTranslator(translator: ITranslator): void {
  bundle = translator.load(TRANSLATION_DOMAIN);
}

/** The current bundle (call at use time: the translator may be set after import). */
export function trans(): TranslationBundle {
  return bundle;
}
