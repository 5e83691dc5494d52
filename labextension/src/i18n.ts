/**
 * The extension's translation bundle for modules that build text outside a plugin's
 * `activate` (session dialogs and status items): set once by the session plugin from
 * `ITranslator`, English until then.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from './tokens';

let bundle: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN);
let language = '';

export function setTranslator(translator: ITranslator): void {
  bundle = translator.load(TRANSLATION_DOMAIN);
  language = translator.languageCode ?? '';
}

/**
 * JupyterLab's language ("zh-CN"; '' for the default English), which `requestAPI` sends as
 * `Accept-Language` so that the server's error messages come in that language too.
 */
export function labLanguage(): string {
  return language === 'en' || language === 'en-US' || language === 'default'
    ? ''
    : language;
}

/** The current bundle (call at use time: the translator may be set after import). */
export function trans(): TranslationBundle {
  return bundle;
}
